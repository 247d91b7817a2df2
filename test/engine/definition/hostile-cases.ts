// Hostile workflow files and expressions, shared by the hostile tests and the fuzzers: each must be refused
// with a located problem, quickly.

/** 411 bytes that expand to 10^6 values. */
function aliasBomb(): string {
  let text = "x-a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (let i = 1; i < 6; i++)
    text += `x-a${i}: &a${i} [${Array(10)
      .fill(`*a${i - 1}`)
      .join(", ")}]\n`;
  return `${text}on: { pubsub: { channel: c } }\nsteps:\n  - publish: { channel: c, data: *a5 }\n`;
}

/** The same growth through << merge keys. */
function mergeBomb(): string {
  let text = `x-m0: &m0 { ${Array.from({ length: 10 }, (_, k) => `k${k}: v`).join(", ")} }\n`;
  for (let i = 1; i < 6; i++) {
    const fields = Array.from({ length: 10 }, (_, k) => `f${k}: { <<: *m${i - 1} }`).join(", ");
    text += `x-m${i}: &m${i} { <<: *m${i - 1}, ${fields} }\n`;
  }
  return `${text}on: { pubsub: { channel: c } }\nsteps:\n  - publish: { channel: c, data: { <<: *m5 } }\n`;
}

export const hostileYaml: Record<string, string> = {
  aliasBomb: aliasBomb(),
  mergeBomb: mergeBomb(),
  selfAlias: "x-a: &a [1, *a]\non: { pubsub: { channel: c } }\nsteps: *a\n",
  deepFlow: `on: ${"{a: ".repeat(5000)}1${"}".repeat(5000)}\nsteps: []\n`,
  unknownAnchor: "on: *nope\nsteps: []\n",
  binary: "\u0000\u0001\u0002\u00ff",
  multipleDocuments: "on: { cron: { schedule: '@daily' } }\n---\nsteps: []\n",
  topLevelList: "- on: {}\n",
  tabs: "on:\n\tpubsub: { channel: c }\nsteps: []\n",
  unterminatedQuote: 'on: { pubsub: { channel: "c } }\nsteps: []\n',
  unterminatedExpression:
    "on: { pubsub: { channel: c } }\nsteps:\n  - publish: { channel: c, data: '${{ event' }\n",
  expressionAsMapping:
    "on: { pubsub: { channel: c } }\nsteps:\n  - publish: { channel: c, data: {{ event }} }\n",
  complexKey: "? [a, b]\n: 1\non: { pubsub: { channel: c } }\nsteps: []\n",
  sqlInjection:
    "on: { pubsub: { channel: c } }\nsteps:\n  - sql: { statement: \"DELETE FROM t WHERE id = '${{ event.data.id }}'\" }\n",
  protoKey: "on: { pubsub: { channel: c } }\nsteps:\n  - publish: { channel: c }\n__proto__: { steps: [] }\n",
  constructorKey: "on: { pubsub: { channel: c } }\nsteps:\n  - publish: { channel: c, constructor: 1 }\n",
  hugeTimeout:
    "on: { pubsub: { channel: c } }\nsteps:\n  - publish: { channel: c }\n    timeout: 99999999999999999999h\n",
  negativeRetry:
    "on: { pubsub: { channel: c } }\nsteps:\n  - publish: { channel: c }\n    retry: { attempts: -1 }\n",
  badCron: "on: { cron: { schedule: '* * * * * * * *' } }\nsteps:\n  - publish: { channel: c }\n",
  badTimezone:
    "on: { cron: { schedule: '@daily', timezone: '../../etc/passwd' } }\nsteps:\n  - publish: { channel: c }\n",
  envKey:
    "on: { pubsub: { channel: c } }\nsteps:\n  - publish: { channel: c, data: '${{ env.SKYGEAR_MASTER_KEY }}' }\n",
  unknownKind: "on: { pubsub: { channel: c } }\nsteps:\n  - exec: { command: rm -rf / }\n",
  emptyAs: "on: { pubsub: { channel: c } }\nsteps:\n  - query: { type: t, as: '' }\n",
  badName: "name: ../../etc\non: { pubsub: { channel: c } }\nsteps:\n  - publish: { channel: c }\n",
};

/** CEL expressions whose evaluation would run away; each must fail within its budget. */
export const hostileExpressions: Record<string, string> = {
  nestedMaps:
    "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20].map(a, [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20].map(b, [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20].map(c, [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20].map(d, [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20].map(e, [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20].map(f, a + b + c + d + e + f))))))",
  nestedOverData: "event.data.list.map(a, event.data.list.map(b, event.data.list.map(c, a + b + c)))",
  nestedExists:
    "event.data.list.exists(a, event.data.list.exists(b, event.data.list.exists(c, event.data.list.exists(d, a + b + c + d < 0.0))))",
  doublingList: `[[1,2,3,4,5,6,7,8]]${".map(a, a + a)".repeat(30)}`,
  doublingString: `['abcdefgh']${".map(s, s + s)".repeat(40)}.map(s, size(s))`,
  redos: "event.data.s.matches('^(a+)+$')",
  redosFromData: "event.data.s.matches(event.data.pattern)",
  bigJoin:
    "event.data.list.map(x, string(x)).join(event.data.s + event.data.s + event.data.s + event.data.s)",
  filterChain: `event.data.list${".filter(x, event.data.list.all(y, y >= 0.0))".repeat(5)}`,
};
