#!/usr/bin/env node
console.log('file-transformer');
