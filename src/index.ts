// skyflow as a library: `import { ... } from "skyflow"`. This list is the package's public API; anything not
// exported here is internal and may change in any release. The README's "Library" section shows it in use.

export type { OpenDatabase } from "./db/open.js";
export { type FileResult, LiveCatalog, type WorkflowStatus } from "./engine/catalog.js";
export { type Clock, ManualClock, systemClock } from "./engine/clock.js";
// Workflow files: load and validate one file or a text; the JSON Schema of the format.
export {
  type LoadOptions,
  type LoadResult,
  loadWorkflowFile,
  loadWorkflowSource,
} from "./engine/definition/load.js";
export { jsonSchema as workflowJsonSchema, type StepInput } from "./engine/definition/schema.js";
export type {
  Catalog,
  RetryPolicy,
  StepDefinition,
  TriggerDefinition,
  TriggerEvent,
  WorkflowDefinition,
} from "./engine/definition/types.js";

// The engine (runs, retries, leases) and the triggers that start its runs.
export { createEngine, type Engine, type EngineOptions, type RunDetails } from "./engine/engine.js";
export { stepKinds } from "./engine/step-kinds.js";
export { startTriggers, type TriggerOptions, type Triggers } from "./engine/triggers/index.js";
// Errors (one base class, stable codes), problems in workflow files, logging.
export {
  ConfigError,
  DefinitionError,
  type ErrorCode,
  FatalStepError,
  formatProblem,
  type Problem,
  RetryableStepError,
  RunFailedError,
  SkyflowError,
  StepError,
  StepTimeoutError,
} from "./errors.js";
// The development server as `skyflow dev` runs it, the database, workflows from a directory.
export {
  catalogOf,
  type DatabaseOptions,
  type DevServer,
  type DevServerOptions,
  type LoadedWorkflows,
  loadWorkflows,
  openDatabase,
  startDevServer,
} from "./library.js";
export { createLogger, type Logger, silentLogger } from "./log.js";
export { type StartServerOptions, startSkygearServer } from "./server/http.js";
// The Skygear-compatible server alone (what `skyflow serve` runs).
export { createSkygearHandler, type SkygearHandlerOptions } from "./server/index.js";
// The Skygear client the steps use: the container (HTTP actions) and the pubsub client.
export {
  type CreateContainerOptions,
  createContainer,
  SkygearContainer,
} from "./skygear/container.js";
export { createPubsubClient, type PubsubClient, type PubsubClientOptions } from "./skygear/pubsub.js";
export type { PubsubPublisher, RecordJSON, SkygearClient } from "./skygear/types.js";
export type { StepClients, StepContext, StepKind } from "./steps/types.js";
