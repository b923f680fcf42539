/**
 * The demo's network, LeNet-5 for 28×28 MNIST digits: main.ts trains it, and
 * the look-inside workers (inspect-worker.ts) build it from this same
 * definition, so only parameters need to cross to them.
 */
import { lenet5 } from 'striate';

export const demoModel = lenet5();
