import { render } from 'preact';
import { App, makeQueryClient } from '@/app/App';
import './styles.css';

render(<App client={makeQueryClient()} />, document.getElementById('app')!);
