export { seededRandom } from '../../src/util/prng.js';

export function randomInt(rand: () => number, min: number, max: number): number {
  return min + Math.floor(rand() * (max - min + 1));
}
