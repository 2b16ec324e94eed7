// The portal's one init script for htmx behaviour (no inline scripts: strict CSP).
"use strict";
