// Photos and documents: uploads, drag and keyboard reorder.
"use strict";
