/**
 * Test kit for reliable-dgram and for your own protocols over UDP: seeded randomness, a virtual
 * clock, one link model for every kind of network trouble, a deterministic simulated network,
 * a loss-injecting socket wrapper and a UDP impairment proxy.
 *
 * @example
 * ```ts
 * import { SimNetwork } from 'reliable-dgram/testing';
 *
 * const net = new SimNetwork({ seed: 42, impairment: { loss: 0.05, delay: 10, jitter: 3 } });
 * const a = net.socket('10.0.0.1', 1000);
 * const b = net.socket('10.0.0.2', 2000);
 * let got = 0;
 * b.on('message', () => got++);
 * for (let i = 0; i < 100; i++) a.send(new Uint8Array([i]), 2000, '10.0.0.2');
 * net.run(1000);          // one second of virtual time, in microseconds of real time
 * console.log(got);       // the same number on every run with seed 42
 * ```
 *
 * @packageDocumentation
 * @module reliable-dgram/testing
 */
export { Rng, splitmix32 } from './rng.js';
export { VirtualClock } from './virtual-clock.js';
export { LinkModel, emptyCounters, validateImpairment } from './impairment.js';
export type { Impairment, BurstLoss, BlackholeSchedule, LinkDelivery, LinkCounters } from './impairment.js';
export { SimNetwork, SimSocket, SimPort } from './sim-network.js';
export type { SimNetworkOptions, SimNetworkCounters, SimReceiver } from './sim-network.js';
export { LossySocket } from './lossy-socket.js';
export { TraceRecorder, dumpTraceOnFailure, qlogDumpDir } from './trace-recorder.js';
export type { LossySocketOptions, LossySocketCounters, Direction } from './lossy-socket.js';
export { ImpairProxy } from './impair-proxy.js';
export type { ImpairProxyOptions, ImpairProxyCounters, OverflowEvent } from './impair-proxy.js';
