import type { CongestionAlgorithm, CongestionController, CongestionControllerFactory } from '../types.js';
import { Bbr } from './bbr.js';
import { Ledbat } from './ledbat.js';
import { NewReno } from './new-reno.js';
import { NoCongestionControl } from './none.js';

export { Bbr } from './bbr.js';
export { Ledbat } from './ledbat.js';
export { NewReno } from './new-reno.js';
export { NoCongestionControl } from './none.js';

/** The built-in algorithms, by name. */
export const CONGESTION_ALGORITHMS: readonly CongestionAlgorithm[] = ['bbr', 'newreno', 'ledbat', 'none'];

export function createCongestionController(
  choice: CongestionAlgorithm | CongestionControllerFactory,
  maxDatagramSize: number,
  initialRtt: number,
): CongestionController {
  if (typeof choice === 'function') return choice({ maxDatagramSize });
  switch (choice) {
    case 'bbr':
      return new Bbr(maxDatagramSize, initialRtt);
    case 'newreno':
      return new NewReno(maxDatagramSize);
    case 'ledbat':
      return new Ledbat(maxDatagramSize);
    case 'none':
      return new NoCongestionControl(maxDatagramSize);
    default:
      throw new RangeError(`unknown congestion controller '${String(choice)}'`);
  }
}
