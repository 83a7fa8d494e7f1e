import { pino, type Logger } from 'pino';

/**
 * One logger for the process. Logs go to stderr (fd 2) as JSON lines; the mount daemon points
 * fd 2 at its log file when it runs in the background. Level from MOSAICFS_LOG (default "info",
 * "warn" for the CLI's short-lived commands).
 */
export const log: Logger = pino(
  { level: process.env.MOSAICFS_LOG ?? 'info', base: { pid: process.pid } },
  pino.destination({ fd: 2, sync: true }),
);
