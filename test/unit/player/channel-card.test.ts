// SPDX-License-Identifier: GPL-3.0-or-later
/** The dashboard card's pure parts (browser code, imported as an ES module). */
import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { findPagesDirs } from '../../../engine/api/pages';
import { ingestSettings } from '../../../core/model/channel';

type Row = [string, [string, string, string][]];
interface Card {
  settingsRows(ch: object): Row[];
  inputRows(ch: object): { onAir: string | null; rows: [string, string, string][]; switches: string[] } | null;
}
const load = async () => (await import(pathToFileURL(join(findPagesDirs(__dirname).playerDir, 'channel-card.js')).href)) as Card;

describe('channel card: redundant publishers', () => {
  it('lists the backup encoder settings (role=backup) beside the primary\'s', async () => {
    const card = await load();
    const ch = { name: 'main', streamKey: 'KEY', passphrase: null } as Parameters<typeof ingestSettings>[0];
    const ingest = ingestSettings(ch, { httpBase: 'http://h', ingestHost: 'h', srtPort: 9000, rtmpPort: 1935 });
    const rows = card.settingsRows({ ingest, playback: { hls: 'a', dash: 'b', player: 'c' } });
    const fields = new Map(rows.flatMap(([, items]) => items.map(([, value, field]) => [field, value] as const)));
    assert.equal(fields.get('backup-rtmp'), 'rtmp://h:1935/live/KEY?role=backup');
    assert.equal(fields.get('backup-larix-streamid'), '#!::r=main,m=publish,s=KEY,role=backup');
    assert.equal(fields.get('backup-obs-rtmp-key'), 'KEY?role=backup');
    assert.equal(fields.get('larix-streamid'), '#!::r=main,m=publish,s=KEY');
    assert.equal(rows.at(-1)?.[0], 'Playback');
  });

  it('shows both inputs, which is on air, and the newest switches with their reasons', async () => {
    const card = await load();
    assert.equal(card.inputRows({ status: { redundancy: null } }), null, 'no backup ever: nothing shown');
    const at = new Date().toISOString();
    const view = card.inputRows({
      status: {
        redundancy: {
          onAir: 'backup',
          inputs: { primary: { protocol: 'srt', health: 'stalled', onAir: false }, backup: { protocol: 'rtmp', health: 'healthy', onAir: true } },
          switches: [{ at, from: 'backup', to: 'primary', reason: 'primary-restored' }, { at, from: 'primary', to: 'backup', reason: 'primary-stalled' }],
          switchCount: 2,
        },
      },
    });
    assert.ok(view);
    assert.deepEqual(view.rows, [
      ['Primary', 'SRT · no media · standby', 'input-primary'],
      ['Backup', 'RTMP · healthy · ON AIR', 'input-backup'],
      ['Switches', '2', 'switches'],
    ]);
    assert.match(view.switches[0] ?? '', /^primary → backup: primary-stalled/, 'newest first');
    const gone = card.inputRows({ status: { redundancy: { onAir: 'primary', inputs: { primary: { protocol: 'srt', health: 'healthy', onAir: true }, backup: null }, switches: [], switchCount: 0 } } });
    assert.deepEqual(gone?.rows[1], ['Backup', 'not connected', 'input-backup']);
  });
});
