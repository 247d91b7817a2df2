// The catalog of live workflow versions: one pointer per workflow name, swapped atomically (in one
// synchronous step) when a file reloads. A broken file keeps its last good version live and records its
// problems; paused workflows are hidden from the triggers' view. No I/O.
import type { Problem } from "../errors.js";
import type { Catalog, WorkflowDefinition } from "./definition/types.js";

/** What the loader made of one file: a definition, or the problems that kept it out. */
export interface FileResult {
  file: string;
  workflow?: WorkflowDefinition;
  problems: Problem[];
}

/** One batch applied: what changed, for the log. */
export interface CatalogChange {
  added: string[];
  updated: string[];
  removed: string[];
  /** Files whose new text was rejected (their last good version, if any, stays live). */
  broken: { file: string; problems: Problem[]; kept?: string }[];
}

export type WorkflowStatus = "enabled" | "disabled" | "paused" | "broken";

export class LiveCatalog implements Catalog {
  /** name -> live definition */
  private live = new Map<string, WorkflowDefinition>();
  /** file -> name of the workflow it last defined successfully */
  private owner = new Map<string, string>();
  /** file -> problems of its current text */
  private errors = new Map<string, Problem[]>();
  private pausedNames = new Set<string>();
  private listeners = new Set<() => void>();

  get(name: string): WorkflowDefinition | undefined {
    return this.live.get(name);
  }

  list(): WorkflowDefinition[] {
    return [...this.live.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Applies new results and removed files together, then notifies once: a rename (unlink + add in one
   * batch) never leaves the workflow missing in between.
   */
  apply(results: FileResult[], removedFiles: string[] = []): CatalogChange {
    const before = new Map(this.live);
    const change: CatalogChange = { added: [], updated: [], removed: [], broken: [] };
    for (const file of removedFiles) this.dropFile(file);
    for (const r of results) {
      const problems = r.workflow ? this.clash(r.workflow, removedFiles) : r.problems;
      if (r.workflow && problems.length === 0) {
        this.put(r.file, r.workflow);
      } else {
        this.errors.set(r.file, problems);
        change.broken.push({ file: r.file, problems, kept: this.owner.get(r.file) });
      }
    }
    for (const [name, def] of this.live) {
      const old = before.get(name);
      if (!old) change.added.push(name);
      else if (old.version !== def.version || old.file !== def.file) change.updated.push(name);
    }
    for (const name of before.keys()) if (!this.live.has(name)) change.removed.push(name);
    if (change.added.length || change.updated.length || change.removed.length) this.notify();
    return change;
  }

  /** Replaces everything with a full directory load (start, SIGHUP); files not listed are removed. */
  replaceAll(results: FileResult[]): CatalogChange {
    const listed = new Set(results.map((r) => r.file));
    const gone = [...new Set([...this.owner.keys(), ...this.errors.keys()])].filter((f) => !listed.has(f));
    return this.apply(results, gone);
  }

  /** Current problems per file (files that load cleanly are absent). */
  problems(): Map<string, Problem[]> {
    return new Map(this.errors);
  }

  setPaused(names: Iterable<string>): void {
    const next = new Set(names);
    const same = next.size === this.pausedNames.size && [...next].every((n) => this.pausedNames.has(n));
    if (same) return;
    this.pausedNames = next;
    this.notify();
  }

  isPaused(name: string): boolean {
    return this.pausedNames.has(name);
  }

  status(name: string): WorkflowStatus | undefined {
    const def = this.live.get(name);
    if (!def) return undefined;
    if (this.errors.has(def.file)) return "broken";
    if (this.pausedNames.has(name)) return "paused";
    return def.enabled ? "enabled" : "disabled";
  }

  /** The view handed to the triggers: paused and disabled workflows are not there, so nothing starts them. */
  triggerView(): Catalog {
    const visible = (d: WorkflowDefinition | undefined) =>
      d?.enabled && !this.pausedNames.has(d.name) ? d : undefined;
    return {
      get: (name) => visible(this.live.get(name)),
      list: () => this.list().filter((d) => visible(d)),
      subscribe: (listener) => this.subscribe(listener),
    };
  }

  private put(file: string, def: WorkflowDefinition): void {
    const previous = this.owner.get(file);
    if (previous && previous !== def.name) this.live.delete(previous);
    this.owner.set(file, def.name);
    this.errors.delete(file);
    this.live.set(def.name, def);
  }

  private dropFile(file: string): void {
    const name = this.owner.get(file);
    if (name && this.live.get(name)?.file === file) this.live.delete(name);
    this.owner.delete(file);
    this.errors.delete(file);
  }

  /** A name already owned by another file (not being removed in this batch) is a load error naming both. */
  private clash(def: WorkflowDefinition, removedFiles: string[]): Problem[] {
    const holder = this.live.get(def.name);
    if (!holder || holder.file === def.file || removedFiles.includes(holder.file)) return [];
    return [
      {
        file: def.file,
        line: 1,
        column: 1,
        path: "name",
        message: `workflow "${def.name}" is already defined in ${holder.file}; names must be unique`,
      },
    ];
  }

  private notify(): void {
    for (const l of this.listeners) l();
  }
}
