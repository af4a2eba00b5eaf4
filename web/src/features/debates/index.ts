/** The debates feature: history, the live debate page, and the hooks the home page uses. */
export { DebatePage } from './components/DebatePage';
export { HistoryPage } from './components/HistoryPage';
export { useCreateDebate, useDebateList } from './api/queries';
export { DebateModel } from './live/fold';
export { DebateStream } from './live/stream';
