// The runtime's public surface.
export * from './types';
export { ActorSystem, type SystemOptions } from './system';
export { HostRuntime, type HostStats, type DeliveryEvent } from './host';
export { TypeRegistry, typeName } from './type-registry';
export { decide, type Directive } from './supervision';
export { JobPool } from './job-pool';
