/** Discord snowflakes: milliseconds since the Discord epoch (2015-01-01) << 22, plus an increment. */
const DISCORD_EPOCH = 1_420_070_400_000n;
let increment = 0n;

export function nextSnowflake(now = Date.now()): string {
  increment = (increment + 1n) & 0xfffn;
  return (((BigInt(now) - DISCORD_EPOCH) << 22n) | (1n << 17n) | increment).toString();
}
