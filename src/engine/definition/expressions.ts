// The public face of expressions: compile at load, resolve per step try. Implementation lives in expr.ts
// (one expression), template.ts (values holding expressions) and cel.ts (the CEL environment). No I/O.
export { stepUuid } from "../ids.js";
export {
  type CompiledExpr,
  compileExpression,
  ExpressionError,
  type ExprRef,
  runtimeHint,
  type SourceLoc,
  tryCompileExpression,
} from "./expr.js";
export {
  asText,
  type CompiledTemplate,
  compileTemplate,
  hasExpression,
  type Locate,
  resolveTemplate,
  scanExpressions,
  type Template,
  tryCompileTemplate,
} from "./template.js";
