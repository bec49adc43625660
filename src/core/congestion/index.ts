import type { CongestionAlgorithm, CongestionController, CongestionControllerFactory } from '../types.js';
import { NewReno } from './new-reno.js';
import { NoCongestionControl } from './none.js';

export { NewReno } from './new-reno.js';
export { NoCongestionControl } from './none.js';

export function createCongestionController(
  choice: CongestionAlgorithm | CongestionControllerFactory,
  maxDatagramSize: number,
): CongestionController {
  if (typeof choice === 'function') return choice({ maxDatagramSize });
  switch (choice) {
    case 'newreno':
      return new NewReno(maxDatagramSize);
    case 'none':
      return new NoCongestionControl(maxDatagramSize);
  }
}
