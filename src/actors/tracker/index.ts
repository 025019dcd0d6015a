// The tracker's catalog module: every behaviour a tracker host may run.
import { TrackerConsole } from './console';
import { ExpiryScheduler } from './expiry-scheduler';
import { Registry } from './registry';
import { UdpEndpoint } from './udp-endpoint';

export const behaviors = [UdpEndpoint, Registry, ExpiryScheduler, TrackerConsole];
