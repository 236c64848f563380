// Holdfast Mail: the web app's entry (docs/webmail.md).
import { render } from 'preact';
import { App } from './app.tsx';
import './style.css';

render(<App />, document.getElementById('app')!);
