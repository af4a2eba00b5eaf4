export { NewDebatePage } from './NewDebatePage';
export { estimate } from './estimate';
