"""Excel import and export of a school's students and teachers (批量导入/导出)."""
