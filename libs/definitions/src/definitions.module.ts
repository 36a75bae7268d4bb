import { Module } from '@nestjs/common';
import { DefinitionsService } from './definitions.service.js';

/** Definition validation and versioning. Needs DatabaseModule (global) for its repositories. */
@Module({
  providers: [DefinitionsService],
  exports: [DefinitionsService],
})
export class DefinitionsModule {}
