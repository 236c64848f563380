// The admin center's entry (docs/admin-center.md), a bundle of its own served at /admin/.
import { render } from 'preact';
import { AdminApp } from './admin-app.tsx';
import '../style.css';
import './admin.css';

render(<AdminApp />, document.getElementById('app')!);
