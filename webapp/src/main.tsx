// Holdfast Mail: the web app's entry (docs/webmail.md).
import { render } from 'preact';
import { App } from './app.tsx';
import './style.css';
// The calendar's styles are in the first load's CSS: a lazily loaded chunk's CSS would not be linked.
import './calendar/calendar.css';

render(<App />, document.getElementById('app')!);
