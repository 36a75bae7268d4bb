import { Module } from '@nestjs/common';
import { DashboardController } from './dashboard.controller.js';

/** Serves the web app (apps/dashboard, built into dist/dashboard) at /dashboard. */
@Module({ controllers: [DashboardController] })
export class DashboardModule {}
