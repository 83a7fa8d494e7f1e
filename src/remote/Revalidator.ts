/**
 * Close-to-open consistency hook for remote mounts: the VFS calls revalidate(ino) when a file is
 * opened, so the next attribute read goes to the server (CachingMetaStore implements it).
 */
export interface Revalidator {
  revalidate(ino: number): void;
}
