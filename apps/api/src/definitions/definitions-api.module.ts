import { Module } from '@nestjs/common';
import { DefinitionsModule } from '#definitions';
import { DefinitionsController } from './definitions.controller.js';

@Module({ imports: [DefinitionsModule], controllers: [DefinitionsController] })
export class DefinitionsApiModule {}
