/**
 * Loggers of the dispy programs (pino, to stderr). Levels accept pino names or the original's
 * numeric `logging` levels (10 debug … 50 critical).
 *
 * @example
 * const log = dispyLogger('dispynode', 'info');
 */
import { type Logger, pino } from 'pino';

export type LogLevel = string | number;

export function pinoLevel(level: LogLevel | undefined, fallback = 'warn'): string {
  if (level === undefined) return fallback;
  if (typeof level === 'string') return level;
  if (level <= 10) return 'debug';
  if (level <= 20) return 'info';
  if (level <= 30) return 'warn';
  if (level <= 40) return 'error';
  return 'fatal';
}

export function dispyLogger(name: string, level?: LogLevel, fallback = 'warn'): Logger {
  return pino({ name, level: pinoLevel(level, fallback) }, pino.destination(2));
}
