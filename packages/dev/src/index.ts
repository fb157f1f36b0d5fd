export type { DemoProducerOptions, DemoProducerStats } from "./producer.js";
export { runDemoProducer } from "./producer.js";
export type { Stack, StackOptions, StackPorts } from "./stack.js";
export {
  ALL_SERVICES,
  DEFAULT_PORTS,
  natsLaunchEnv,
  SERVICE_ORDER,
  ServiceName,
  serviceLaunchEnv,
  serviceNodeFlags,
  startStack,
} from "./stack.js";
export type { StatusSnapshot, StatusSources } from "./status.js";
export { formatCount, formatStatusLine, readStatus } from "./status.js";
