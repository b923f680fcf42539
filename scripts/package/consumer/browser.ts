// A browser-only TypeScript consumer: no Node types at all (types: []), so
// nothing in the platform-neutral entry may lean on @types/node.
import { compile, input, relu, type RunResult } from 'striate';

const f = compile([relu(input('x', [4]))], { backend: 'webasm' });
const result: Promise<RunResult[]> = f.run({ x: new Float32Array([-1, 2, -3, 4]) });
void result.then(([y]) => document.body.append(String(y.data)));
