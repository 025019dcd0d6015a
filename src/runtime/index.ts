// The runtime's public surface.
export * from './types';
export { ActorSystem, type SystemOptions } from './system';
export { HostRuntime, type HostStats } from './host';
export { Tracer, emptied, wireTemplate, type TraceRecorder, type WireTemplate, type WireTrace } from './tracer';
export { TypeRegistry, typeName } from './type-registry';
export { decide, type Directive } from './supervision';
export { JobPool } from './job-pool';
