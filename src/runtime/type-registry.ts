// Maps fully qualified protobuf type names to generated classes, so that a
// host can decode any envelope by the type name it carries.
import type { MessageClass } from './types';

export class TypeRegistry {
  private readonly byName = new Map<string, MessageClass<unknown>>();

  /** Collects every message class found under a generated namespace object. */
  static fromNamespace(root: object): TypeRegistry {
    const registry = new TypeRegistry();
    const visit = (node: unknown, depth: number): void => {
      if (depth > 8 || node === null || (typeof node !== 'object' && typeof node !== 'function')) return;
      const candidate = node as Partial<MessageClass<unknown>>;
      if (typeof candidate.encode === 'function' && typeof candidate.decode === 'function' &&
          typeof candidate.getTypeUrl === 'function') {
        registry.add(candidate as MessageClass<unknown>);
      }
      for (const key of Object.keys(node)) {
        if (/^[A-Za-z_]/.test(key) && key !== 'prototype') visit((node as Record<string, unknown>)[key], depth + 1);
      }
    };
    visit(root, 0);
    return registry;
  }

  add(type: MessageClass<unknown>): void {
    this.byName.set(typeName(type), type);
  }

  get<T>(name: string): MessageClass<T> | undefined {
    return this.byName.get(name) as MessageClass<T> | undefined;
  }

  get size(): number {
    return this.byName.size;
  }
}

/** "p2p.v1.Block" for the generated class p2p.v1.Block. */
export function typeName(type: MessageClass<unknown>): string {
  const url = type.getTypeUrl('');
  return url.startsWith('/') ? url.slice(1) : url;
}
