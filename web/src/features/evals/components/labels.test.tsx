import { render } from '@testing-library/preact';
import { describe, expect, it } from 'vitest';
import { AgentSpecs, RunStatus } from './labels';

describe('labels', () => {
  it('marks simulated agents, and only them', () => {
    const root = render(<AgentSpecs agents={['sim:0.7/corr=0.5#a', 'openai-compatible:qwen@http://127.0.0.1:8000/v1']} />).container;
    const items = [...root.querySelectorAll('li')].map((li) => li.textContent);
    expect(items).toEqual(['sim:0.7/corr=0.5#a simulated', 'openai-compatible:qwen@http://127.0.0.1:8000/v1']);
  });

  it('tones the status by what it means', () => {
    const tone = (status: 'complete' | 'partial' | 'unreadable') => render(<RunStatus status={status} />).container.querySelector('.badge')!.className;
    expect(tone('complete')).toContain('badge-good');
    expect(tone('partial')).toContain('badge-warn');
    expect(tone('unreadable')).toContain('badge-bad');
  });
});
