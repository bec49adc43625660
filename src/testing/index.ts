/**
 * Test kit for reliable-dgram and for your own protocols: seeded randomness, a virtual clock,
 * a deterministic simulated network and a loss-injecting socket.
 *
 * @packageDocumentation
 */
export {};
