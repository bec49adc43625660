/**
 * The endpoint's one timer, for every connection: armed for the engine's earliest deadline after
 * each flush (`rearm`), kept when a deadline only moved later, moved in place where the clock
 * can (`Clock.postponeTimer`), cleared and made afresh otherwise. What the timer does when it
 * fires is the endpoint's (endpoint.ts `onTimer`).
 */
import type { EndpointShellParts } from './endpoint-parts.js';

export function rearm(ep: EndpointShellParts, now: number): void {
  const deadline = ep.state === 'closed' ? null : ep.core.pollTimeout();
  if (deadline === ep.armedAt) return;
  // Deadlines mostly move later (every packet pushes back the loss-probe, idle and keepalive
  // timers): keep an earlier timer armed rather than re-arming on every packet. Once it is
  // within half its span of firing, move it on to the new deadline where the clock can do
  // that in place (`postponeTimer`, Node's `Timeout.refresh()`): a busy connection's timer
  // then never fires. Otherwise (or when the clock cannot) it fires early, and the endpoint
  // handles what is due and re-arms for the real deadline.
  if (deadline !== null && ep.armedAt !== null && ep.timer !== null && ep.armedAt <= deadline) {
    if (ep.postponable && now >= ep.postponeFrom) {
      const at = ep.clock.postponeTimer!(ep.timer, deadline);
      if (at !== null) armed(ep, now, at);
    }
    return;
  }
  // Earlier than the armed timer: on a busy connection that is the loss-probe deadline when
  // the PTO shrank by more than the trip took (srtt or rttvar coming down after a slow trip),
  // every ~10 trips on loopback. The same timer is restarted in place when it then fires by
  // the new deadline (its whole milliseconds from now fit: nearly always, as the PTO moved by
  // microseconds), rather than cleared and a new one made (~1.5 µs in Node, issue 11).
  if (deadline !== null && ep.timer !== null && ep.postponable) {
    const at = ep.clock.postponeTimer!(ep.timer, deadline);
    if (at !== null) {
      armed(ep, now, at);
      return;
    }
  }
  if (ep.timer !== null) ep.clock.clearTimer(ep.timer);
  ep.timer = null;
  ep.armedAt = deadline;
  if (deadline !== null) arm(ep, now, deadline);
  // Nothing left to time: a late timer's turn (`onTimer`) that was waiting is over, and the
  // next timer armed is a new one (a late firing of it waits for the socket too).
  else ep.timerDeferred = false;
}

/** A new timer for `deadline` (none is armed). */
export function arm(ep: EndpointShellParts, now: number, deadline: number): void {
  ep.timer = ep.clock.setTimer(deadline, ep.onTimer);
  armed(ep, now, deadline);
  if (!ep.refed) ep.clock.unrefTimer?.(ep.timer);
}

/** The timer now fires by `at`: worth moving on once half the time to it has passed. */
function armed(ep: EndpointShellParts, now: number, at: number): void {
  ep.armedAt = at;
  ep.postponeFrom = now + (at - now) / 2;
}
