// Tests speak the tracker protocol with the same bare client the lab uses.
export { TrackerProbe as RawTrackerClient } from '../../src/cli/tracker-probe';
