/**
 * Blob names become paths inside the archive (activities/access/gather.ts `safePath`): a name is
 * any string at Azure, and a segment an unzip tool would follow out of the person's folder
 * (`..`, `.`, empty, a backslash) must not reach the ZIP ("zip slip").
 */
import { safePath } from '../../activities/access/gather';

describe('paths inside the archive', () => {
  test('when a blob name is ordinary, then it is kept as it is', () => {
    expect(safePath('accounts/3f1c/cameras/c1/2026/05/01/1714521600000.jpg')).toBe('accounts/3f1c/cameras/c1/2026/05/01/1714521600000.jpg');
  });

  test('when a blob name climbs, starts at the root or hides a Windows separator, then no segment of the path can leave the folder', () => {
    for (const name of ['accounts/3f1c/../../etc/passwd', '/accounts/3f1c/x.jpg', 'accounts/3f1c/./x.jpg', 'accounts//x.jpg', 'accounts/3f1c/..\\..\\x.jpg']) {
      const segments = safePath(name).split('/');
      expect([name, segments.some((s) => s === '..' || s === '.' || s === '' || s.includes('\\'))]).toEqual([name, false]);
    }
  });
});
