/**
 * Markdown for untrusted agent text, rendered to Preact nodes: nothing is ever parsed as
 * HTML (raw HTML in the text shows as text), links only for http(s) and mailto (anything
 * else, `javascript:` included, shows as text), and images as links, so an agent cannot
 * make the page load anything.
 */
import { Lexer, type Token, type Tokens } from 'marked';
import type { ComponentChildren, JSX } from 'preact';

const SAFE_LINK = /^(https?:|mailto:)/i;

export function safeHref(href: string): string | null {
  const trimmed = href.trim();
  // Control characters and whitespace inside a scheme are how `java\tscript:` slips
  // through naive checks: such a link is not a link.
  // eslint-disable-next-line no-control-regex -- control characters are exactly what we look for
  if (/[\u0000-\u001f\u007f]/.test(trimmed)) return null;
  return SAFE_LINK.test(trimmed) ? trimmed : null;
}

function inline(tokens: Token[] | undefined, key = ''): ComponentChildren[] {
  return (tokens ?? []).map((token, index) => inlineToken(token, `${key}.${index}`));
}

function inlineToken(token: Token, key: string): ComponentChildren {
  switch (token.type) {
    case 'strong':
      return <strong key={key}>{inline((token as Tokens.Strong).tokens, key)}</strong>;
    case 'em':
      return <em key={key}>{inline((token as Tokens.Em).tokens, key)}</em>;
    case 'del':
      return <del key={key}>{inline((token as Tokens.Del).tokens, key)}</del>;
    case 'codespan':
      return <code key={key}>{(token as Tokens.Codespan).text}</code>;
    case 'br':
      return <br key={key} />;
    case 'link': {
      const link = token as Tokens.Link;
      const href = safeHref(link.href);
      if (href === null) return <span key={key}>{link.raw}</span>;
      return (
        <a key={key} href={href} rel="noopener noreferrer nofollow" target="_blank">
          {inline(link.tokens, key)}
        </a>
      );
    }
    case 'image': {
      const image = token as Tokens.Image;
      const href = safeHref(image.href);
      const label = `image: ${image.text || image.href}`;
      if (href === null) return <span key={key}>{image.raw}</span>;
      return (
        <a key={key} href={href} rel="noopener noreferrer nofollow" target="_blank">
          {label}
        </a>
      );
    }
    case 'text': {
      const text = token as Tokens.Text;
      return text.tokens ? <span key={key}>{inline(text.tokens, key)}</span> : text.text === undefined ? null : decode(text.text);
    }
    case 'escape':
      return decode((token as Tokens.Escape).text);
    default:
      // html, tag and anything unknown: the source text, as text.
      return token.raw;
  }
}

/** marked escapes entities in text tokens; undo that, since Preact escapes on output. */
function decode(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
}

function block(token: Token, key: string): JSX.Element | string | null {
  switch (token.type) {
    case 'paragraph':
      return <p key={key}>{inline((token as Tokens.Paragraph).tokens, key)}</p>;
    case 'heading': {
      // Agent headings never compete with the page's own: h4-h6 only.
      const heading = token as Tokens.Heading;
      const level = Math.min(6, Math.max(4, heading.depth + 3));
      const Tag = `h${level}` as 'h4' | 'h5' | 'h6';
      return <Tag key={key}>{inline(heading.tokens, key)}</Tag>;
    }
    case 'code':
      return (
        <pre key={key}>
          <code>{(token as Tokens.Code).text}</code>
        </pre>
      );
    case 'blockquote':
      return <blockquote key={key}>{blocks((token as Tokens.Blockquote).tokens, key)}</blockquote>;
    case 'list': {
      const list = token as Tokens.List;
      const items = list.items.map((item, index) => (
        <li key={`${key}.${index}`}>{blocks(item.tokens, `${key}.${index}`)}</li>
      ));
      return list.ordered ? (
        <ol key={key} start={typeof list.start === 'number' ? list.start : undefined}>
          {items}
        </ol>
      ) : (
        <ul key={key}>{items}</ul>
      );
    }
    case 'table': {
      const table = token as Tokens.Table;
      return (
        <div class="md-table" key={key}>
          <table>
            <thead>
              <tr>
                {table.header.map((cell, index) => (
                  <th key={index}>{inline(cell.tokens, `${key}.h${index}`)}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {table.rows.map((row, r) => (
                <tr key={r}>
                  {row.map((cell, c) => (
                    <td key={c}>{inline(cell.tokens, `${key}.${r}.${c}`)}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      );
    }
    case 'hr':
      return <hr key={key} />;
    case 'space':
      return null;
    case 'text': {
      const text = token as Tokens.Text;
      return <span key={key}>{text.tokens ? inline(text.tokens, key) : decode(text.text)}</span>;
    }
    default:
      // html blocks and anything unknown: shown as the text it is.
      return <p key={key}>{token.raw}</p>;
  }
}

function blocks(tokens: Token[], key = 'b'): (JSX.Element | string | null)[] {
  return tokens.map((token, index) => block(token, `${key}.${index}`));
}

/** Parse `source` as Markdown and return safe nodes. */
export function renderMarkdown(source: string): (JSX.Element | string | null)[] {
  return blocks(Lexer.lex(source, { gfm: true, breaks: true }));
}

export function Markdown({ text, class: className }: { text: string; class?: string }): JSX.Element {
  return <div class={className ? `md ${className}` : 'md'}>{renderMarkdown(text)}</div>;
}
