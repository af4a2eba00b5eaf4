export { ReceiptPanel } from './ReceiptPanel';
