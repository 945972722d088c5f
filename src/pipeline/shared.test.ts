import { describe, expect, it } from 'vitest';
import { SharedResources } from './shared.ts';

describe('SharedResources', () => {
  it('makes a resource once for every asker, forgets a failed one, frees all on dispose, once', async () => {
    const shared = new SharedResources();
    let made = 0;
    const freed: string[] = [];
    const make = (name: string) => () => { made++; return { name }; };
    const [a, b] = await Promise.all([shared.get('m', make('m'), (v) => { freed.push(v.name); }), shared.get('m', make('m'))]);
    expect(a).toBe(b);
    expect(made).toBe(1);
    await expect(shared.get('bad', () => { throw new Error('no such model'); })).rejects.toThrow('no such model');
    expect(await shared.get('bad', make('bad'), (v) => { freed.push(v.name); })).toEqual({ name: 'bad' }); // retried, not the cached failure
    expect((await shared.values<{ name: string }>('m')).map((v) => v.name)).toEqual(['m']);
    await shared.dispose();
    await shared.dispose();
    expect(freed.sort()).toEqual(['bad', 'm']);
    await expect(shared.get('m', make('m'))).rejects.toThrow(/disposed/);
  });
});
