import { describe, expect, it } from 'vitest';
import { searchNodeTypes } from '../src/editor/node-search';
import { builtinRegistry } from '../nodes';

const defs = builtinRegistry().list();
const titles = (q: string) => searchNodeTypes(defs, q).map((d) => d.title);

describe('searchNodeTypes', () => {
  it('finds node types by title, best match first ("gram": the Gram matrix and the Gram style loss)', () => {
    expect(titles('Gram').slice(0, 2)).toEqual(['Gram matrix', 'Gram style loss']);
    expect(titles('gram style')[0]).toBe('Gram style loss');
  });

  it('finds them by type id and by description, and by category below titles', () => {
    expect(searchNodeTypes(defs, 'meanstd').map((d) => d.type)).toContain('meanstd-loss');
    expect(searchNodeTypes(defs, 'tv-loss')[0]!.type).toBe('tv-loss');
    const loss = titles('loss');
    expect(loss.length).toBeGreaterThan(3);
    expect(loss).toContain('Content loss');
    // Every word must match: nothing is a "gram decoder".
    expect(titles('gram decoder')).toEqual([]);
    expect(titles('zzzz')).toEqual([]);
  });

  it('ranks a title match above a description match and keeps the given order on ties; empty lists all', () => {
    const list = [
      { type: 'a', title: 'Alpha', category: 'X', description: 'mentions gram here' },
      { type: 'b', title: 'Gram thing', category: 'X' },
      { type: 'c', title: 'Other gram', category: 'X' },
      { type: 'd', title: 'Beta', category: 'Gram stuff' },
    ];
    expect(searchNodeTypes(list, 'gram').map((d) => d.type)).toEqual(['b', 'c', 'd', 'a']);
    expect(searchNodeTypes(list, '  ').map((d) => d.type)).toEqual(['a', 'b', 'c', 'd']);
  });
});
