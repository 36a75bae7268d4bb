import { Module } from '@nestjs/common';
import { DeliverablesController } from './deliverables.controller.js';

@Module({ controllers: [DeliverablesController] })
export class DeliverablesModule {}
