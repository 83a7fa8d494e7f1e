/**
 * Path -> inode for the path-based libfuse2 API, with a dentry cache shaped like the tree it
 * mirrors (so forgetting a renamed or removed directory drops its whole subtree in O(1)).
 *
 * Why the cache is correct: this process holds the volume lock, so every namespace change goes
 * through the adapter, which calls forget() for unlink/rmdir/rename before answering the kernel.
 * Only positive entries are cached. A lookup that raced with an invalidation is not inserted
 * (generation check). A cached inode that vanished anyway (ENOENT) is dropped and walked again.
 */
import { isFsError } from '../errors.js';
import { ROOT_INO } from '../meta/MetaStore.js';
import type { Ctx, InodeAttr, VfsApi } from '../vfs/types.js';

interface Dentry {
  ino: number;
  children?: Map<string, Dentry>;
}

export interface ParentAndName {
  parent: number;
  name: string;
}

export class PathResolver {
  private root: Dentry = { ino: ROOT_INO };
  private size = 0;
  private generation = 0;

  constructor(
    private readonly vfs: VfsApi,
    private readonly ctx: Ctx,
    private readonly maxEntries = 65536,
  ) {}

  /** Inode number of an absolute path (no symlinks are followed: libfuse hands us resolved paths). */
  async ino(path: string): Promise<number> {
    if (path === '/') return ROOT_INO;
    return (await this.walk(path, false)).ino;
  }

  /** Attributes of a path: one lookup or one getattr when the parent is cached. */
  async attr(path: string): Promise<InodeAttr> {
    if (path === '/') return this.vfs.getattr(this.ctx, ROOT_INO);
    const found = await this.walk(path, true);
    if (found.attr) return found.attr;
    try {
      return await this.vfs.getattr(this.ctx, found.ino);
    } catch (err) {
      if (!isFsError(err, 'ENOENT')) throw err;
      this.forget(path);
      const again = await this.walk(path, true);
      return again.attr ?? this.vfs.getattr(this.ctx, again.ino);
    }
  }

  /** The parent directory's inode and the last component, for ops that create or remove names. */
  async parentOf(path: string): Promise<ParentAndName> {
    const slash = path.lastIndexOf('/');
    const name = path.slice(slash + 1);
    const parent = slash <= 0 ? ROOT_INO : await this.ino(path.slice(0, slash));
    return { parent, name };
  }

  /** Record a name we just created (create, mkdir, link, symlink, mknod). */
  remember(path: string, ino: number): void {
    const slash = path.lastIndexOf('/');
    const dir = this.node(path.slice(0, slash));
    if (!dir) return;
    this.insert(dir, path.slice(slash + 1), ino);
  }

  /** Drop a path and everything cached below it (unlink, rmdir, rename source and target). */
  forget(path: string): void {
    this.generation++;
    const slash = path.lastIndexOf('/');
    const dir = this.node(path.slice(0, slash));
    const children = dir?.children;
    if (children?.delete(path.slice(slash + 1)) && children.size === 0) dir!.children = undefined;
  }

  private node(dirPath: string): Dentry | undefined {
    let node: Dentry | undefined = this.root;
    if (dirPath === '' || dirPath === '/') return node;
    let start = 1;
    while (node && start <= dirPath.length) {
      let end = dirPath.indexOf('/', start);
      if (end < 0) end = dirPath.length;
      node = node.children?.get(dirPath.slice(start, end));
      start = end + 1;
    }
    return node;
  }

  private async walk(path: string, wantAttr: boolean): Promise<{ ino: number; attr?: InodeAttr }> {
    let node = this.root;
    let start = 1;
    let attr: InodeAttr | undefined;
    while (start <= path.length) {
      let end = path.indexOf('/', start);
      if (end < 0) end = path.length;
      const name = path.slice(start, end);
      const cached = node.children?.get(name);
      if (cached) {
        node = cached;
        attr = undefined;
      } else {
        const gen = this.generation;
        attr = await this.vfs.lookup(this.ctx, node.ino, name);
        node = gen === this.generation ? this.insert(node, name, attr.ino) : { ino: attr.ino };
      }
      start = end + 1;
    }
    return wantAttr ? { ino: node.ino, attr } : { ino: node.ino };
  }

  private insert(dir: Dentry, name: string, ino: number): Dentry {
    if (this.size >= this.maxEntries) {
      // Simple bound: start over. Rebuilding costs one lookup per component.
      this.root = { ino: ROOT_INO };
      this.size = 0;
      this.generation++;
      return { ino };
    }
    const children = (dir.children ??= new Map());
    const existing = children.get(name);
    if (existing && existing.ino === ino) return existing;
    const entry: Dentry = { ino };
    children.set(name, entry);
    this.size++;
    return entry;
  }
}
