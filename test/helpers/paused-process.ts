import { EventEmitter } from 'node:events';
import type { Clock, TimerHandle } from '../../src/node/clock.js';
import type { DatagramSocket, RemoteInfo, SocketAddress } from '../../src/node/socket.js';
import type { SimNetwork, SimSocket } from '../../src/testing/index.js';

/** A timer of a {@link PausedProcess}: cancelled ones are skipped even when already held. */
interface HeldTimer {
  inner: TimerHandle | null;
  fn: () => void;
  cancelled: boolean;
}

/**
 * One OS process on a {@link SimNetwork}, which the scheduler can take off the CPU: while it is
 * paused, its timers that come due and the datagrams that reach its socket wait (the datagrams
 * in a bounded receive buffer, as the kernel's: past `receiveBuffer` datagrams they are dropped),
 * while virtual time, and the other side, go on. On resume, as Node's event loop after its
 * JavaScript was held up (a GC, a compile, synchronous work, or descheduled mid-callback), the
 * overdue timers run first (with `now()` far ahead of their deadlines), then the datagrams in
 * the order they arrived; with `ioFirst`, as after a stall inside the poll for I/O, the other way
 * round. Give its `clock` and `socket()` to `createEndpoint`.
 */
export class PausedProcess {
  private paused = false;
  private heldTimers: HeldTimer[] = [];
  private heldDatagrams: (() => void)[] = [];
  /** Datagrams dropped because the receive buffer was full during a pause. */
  dropped = 0;
  /** Pauses begun, and their total length (ms). */
  pauses = 0;
  pausedMs = 0;

  constructor(
    private readonly net: SimNetwork,
    private readonly receiveBuffer = 256,
    private readonly ioFirst = false,
  ) {}

  readonly clock: Clock = {
    now: () => this.net.clock.now(),
    setTimer: (deadline: number, fn: () => void): TimerHandle => {
      const t: HeldTimer = { inner: null, fn, cancelled: false };
      t.inner = this.net.clock.setTimer(deadline, () => {
        if (t.cancelled) return;
        if (this.paused) this.heldTimers.push(t);
        else fn();
      });
      return t;
    },
    clearTimer: (handle: TimerHandle): void => {
      const t = handle as HeldTimer;
      t.cancelled = true;
      if (t.inner !== null) this.net.clock.clearTimer(t.inner);
    },
  };

  get isPaused(): boolean {
    return this.paused;
  }

  /** Off the CPU for `ms` of virtual time from now. A pause asked for while one is under way is ignored (that one ends when it would have). */
  pause(ms: number): void {
    if (this.paused) return;
    this.paused = true;
    this.pauses += 1;
    this.pausedMs += ms;
    this.net.clock.setTimer(this.net.clock.now() + ms, () => this.resume());
  }

  private resume(): void {
    this.paused = false;
    const timers = this.heldTimers;
    const datagrams = this.heldDatagrams;
    this.heldTimers = [];
    this.heldDatagrams = [];
    if (this.ioFirst) for (const d of datagrams) d();
    for (const t of timers) if (!t.cancelled) t.fn();
    if (!this.ioFirst) for (const d of datagrams) d();
  }

  /** Runs `fn` now, or at resume when paused (a datagram: dropped once the buffer is full). */
  private gate(fn: () => void, datagram: boolean): void {
    if (!this.paused) return fn();
    if (!datagram) {
      this.heldTimers.push({ inner: null, fn, cancelled: false });
      return;
    }
    if (this.heldDatagrams.length >= this.receiveBuffer) this.dropped += 1;
    else this.heldDatagrams.push(fn);
  }

  /** A socket bound on the network whose deliveries (and send callbacks) wait while paused. */
  socket(address: string, port?: number): DatagramSocket {
    const inner = this.net.socket(address, port);
    return new PausedSocket(inner, (fn, datagram) => this.gate(fn, datagram));
  }
}

class PausedSocket extends EventEmitter implements DatagramSocket {
  constructor(
    private readonly inner: SimSocket,
    private readonly gate: (fn: () => void, datagram: boolean) => void,
  ) {
    super();
    inner.on('message', (msg: Buffer, rinfo: RemoteInfo) => gate(() => this.emit('message', msg, rinfo), true));
    inner.on('error', (err: Error) => this.emit('error', err));
    inner.on('close', () => this.emit('close'));
  }

  send(msg: Uint8Array, port: number, address: string, callback?: (error: Error | null, bytes?: number) => void): void {
    if (callback === undefined) this.inner.send(msg, port, address);
    else this.inner.send(msg, port, address, (err, n) => this.gate(() => callback(err, n), false));
  }

  address(): SocketAddress {
    return this.inner.address();
  }

  close(callback?: () => void): void {
    this.inner.close(callback);
  }
}
