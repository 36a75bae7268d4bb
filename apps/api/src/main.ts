import { Logger } from '@nestjs/common';
import { loadConfig } from '#config';
import { createApp } from './bootstrap.js';

const config = loadConfig();
const app = await createApp(config);
await app.listen(config.port);
new Logger('Baton').log(`Baton API on http://localhost:${config.port} (Swagger at /docs, role ${config.role})`);
