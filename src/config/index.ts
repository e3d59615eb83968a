export { loadConfig, type LoadedConfig } from './load.js';
export { dumpConfig } from './dump.js';
export { DIRECTIVES, type Directive } from './schema.js';
export {
  ConfigError,
  formatIssue,
  type ConfigIssue,
  type GlobalConfig,
  type ListenAddress,
  type LogLevel,
  type PmMode,
  type PoolConfig,
  type PooldConfig,
  type SourceLocation,
} from './types.js';
