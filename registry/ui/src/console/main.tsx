import { render } from 'preact';
import '../shared/styles.css';
import { App } from './app.js';

const root = document.getElementById('app') as HTMLElement;
root.textContent = ''; // the boot message
render(<App />, root);
