export { DiscordEmulator, startDiscordEmulator, DEFAULT_ROUTE_LIMITS } from './DiscordEmulator.js';
export type { DiscordEmulatorOptions, EmulatedBot, LoggedRequest, RouteKey } from './DiscordEmulator.js';
export type { RouteLimit } from './rateLimits.js';
