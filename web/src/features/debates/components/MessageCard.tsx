/** One finished message in its lane: answer, reasoning (sanitised Markdown), and the
 * facts around it (targets, what changed, abstention, truncation, usage). */
import { memo } from 'preact/compat';
import { Markdown } from '@/lib/markdown';
import { percent, tokens, usd } from '@/lib/format';
import { AgentName } from '@/components/AgentName';
import { Badge } from '@/components/ui';
import type { MessageItem } from '../live/fold';

export { AgentName };

function Usage({ item }: { item: MessageItem }) {
  if (!item.usage) return null;
  const total = (item.usage.input_tokens ?? 0) + (item.usage.output_tokens ?? 0);
  const estimated = Boolean(item.usage.estimated);
  return (
    <span class="muted small" title={estimated ? 'estimated: the provider reported no usage' : undefined}>
      {tokens(total, estimated)} tokens · {usd(item.usage.cost_usd ?? 0, estimated)}
    </span>
  );
}

export const MessageCard = memo(function MessageCard({ item, answersByAgent }: {
  item: MessageItem;
  answersByAgent?: Record<string, string | null>;
}) {
  const body = item.reasoning ?? item.content;
  return (
    <article class={`message message-${item.type}${item.abstained ? ' message-abstained' : ''}`} id={`seq-${item.seq}`} data-seq={item.seq} data-agent={item.agent}>
      <header class="message-head">
        <AgentName name={item.agent} />
        {item.confidence !== null && !item.abstained ? <Badge title="the agent's stated confidence">{percent(item.confidence)}</Badge> : null}
        {item.truncated ? <Badge tone="warn" title="the reply was cut at the token limit after its answer">truncated</Badge> : null}
      </header>
      {item.abstained ? (
        <div class="note note-warn">
          <strong>Abstained:</strong> {item.abstained}
          {item.offered ? (
            <>
              {' '}
              (offered “<span class="quote">{item.offered}</span>”)
            </>
          ) : null}
        </div>
      ) : null}
      {item.type === 'critique' && item.targets.length > 0 ? (
        <p class="targets">
          Critiques{' '}
          {item.targets.map((target, index) => (
            <span key={target}>
              {index > 0 ? ', ' : ''}
              <AgentName name={target} />
              {answersByAgent?.[target] ? <span class="muted"> (“{answersByAgent[target]}”)</span> : null}
            </span>
          ))}
          {item.score !== null ? <span class="muted"> · score {item.score.toFixed(2)}</span> : null}
        </p>
      ) : null}
      {item.type === 'revision' && !item.abstained ? (
        <p class="change">
          {item.changed === true || (item.previousAnswer !== null && item.answer !== item.previousAnswer) ? (
            <>
              <Badge tone="info">changed</Badge> <del>{item.previousAnswer ?? '—'}</del> → <strong>{item.answer}</strong>
            </>
          ) : (
            <>
              <Badge>kept</Badge> <strong>{item.answer}</strong>
            </>
          )}
        </p>
      ) : item.answer && !item.abstained ? (
        <p class="answer">
          <span class="muted">Answer</span> <strong>{item.answer}</strong>
        </p>
      ) : null}
      {item.abstained ? (
        <details>
          <summary>Raw reply</summary>
          <pre class="raw">{item.content}</pre>
        </details>
      ) : (
        <Markdown text={body} />
      )}
      <footer class="message-foot">
        <Usage item={item} />
      </footer>
    </article>
  );
});
