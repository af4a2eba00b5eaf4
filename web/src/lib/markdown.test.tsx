import { render } from '@testing-library/preact';
import { describe, expect, it } from 'vitest';
import { Markdown, safeHref } from './markdown';

function html(text: string): HTMLElement {
  return render(<Markdown text={text} />).container as HTMLElement;
}

describe('Markdown for untrusted agent text', () => {
  it('shows raw HTML as text, never as elements', () => {
    const root = html('Look: <img src=x onerror=alert(1)> and <script>alert(2)</script>');
    expect(root.querySelector('img')).toBeNull();
    expect(root.querySelector('script')).toBeNull();
    expect(root.textContent).toContain('<img src=x onerror=alert(1)>');
    expect(root.textContent).toContain('<script>alert(2)</script>');
  });

  it('shows an HTML block as text', () => {
    const root = html('<div onclick="steal()">\n<iframe src="https://evil.example"></iframe>\n</div>');
    expect(root.querySelector('iframe')).toBeNull();
    expect(root.querySelector('[onclick]')).toBeNull();
    expect(root.textContent).toContain('<iframe src="https://evil.example"></iframe>');
  });

  it('never makes a javascript: or data: link', () => {
    const root = html('[click me](javascript:alert(1)) [b](JaVaScRiPt:alert(2)) [c](data:text/html,x) <javascript:alert(3)>');
    for (const anchor of root.querySelectorAll('a')) {
      expect(anchor.getAttribute('href')).toMatch(/^(https?:|mailto:)/);
    }
    expect(root.querySelectorAll('a')).toHaveLength(0);
    expect(root.textContent).toContain('[click me](javascript:alert(1))');
  });

  it('keeps http links, safely', () => {
    const anchor = html('[docs](https://example.org/a?b=1)').querySelector('a')!;
    expect(anchor.getAttribute('href')).toBe('https://example.org/a?b=1');
    expect(anchor.getAttribute('rel')).toContain('noopener');
  });

  it('turns images into links so nothing is loaded', () => {
    const root = html('![chart](https://example.org/x.png)');
    expect(root.querySelector('img')).toBeNull();
    expect(root.querySelector('a')?.textContent).toBe('image: chart');
  });

  it('renders ordinary Markdown', () => {
    const root = html('# Title\n\n**bold** and `code`\n\n- one\n- two\n\n```\nx < y\n```');
    expect(root.querySelector('h4')?.textContent).toBe('Title');
    expect(root.querySelector('strong')?.textContent).toBe('bold');
    expect(root.querySelectorAll('li')).toHaveLength(2);
    expect(root.querySelector('pre code')?.textContent).toBe('x < y');
  });

  it('decodes entities once (no double escaping of agent text)', () => {
    expect(html('Tom & Jerry say "hi" <3').textContent).toBe('Tom & Jerry say "hi" <3');
  });

  it('refuses control characters hidden in a scheme', () => {
    expect(safeHref('java\tscript:alert(1)')).toBeNull();
    expect(safeHref(' https://ok.example ')).toBe('https://ok.example');
  });
});
