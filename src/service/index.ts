// Public surface of the service installer (independent of commander).

export { SERVICE_DEFAULTS } from "./defaults.js";
export type { ServiceBackend, ServiceContext, ServiceState } from "./backend.js";
export { backendFor, createServiceContext, detectPlatform, parsePlatform, type ContextOverrides } from "./context.js";
export {
  installService,
  listServices,
  resolveInstanceName,
  serviceLogs,
  serviceStatus,
  uninstallService,
  type InstallRequest,
  type InstallResult,
  type InstanceSelector,
  type LogsOptions,
  type ServiceInfo,
  type UninstallResult,
} from "./install.js";
export { defaultInstanceName, launchdLabel, systemdUnitName, type ServicePlatform } from "./paths.js";
export { renderService, renderLaunchdPlist, renderSystemdUnit } from "./render.js";
export { createRunner, type ServiceRunner } from "./runner.js";
export { dispatcherArgv, resolveServiceSpec, type InstallOptions, type ServiceSpec } from "./spec.js";
