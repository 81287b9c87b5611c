// One lint configuration for the whole tree: the recommended rules of ESLint, typescript-eslint and
// eslint-plugin-vue, with Prettier owning layout (eslint-config-prettier turns the stylistic rules off).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import vue from 'eslint-plugin-vue';
import prettier from 'eslint-config-prettier';
import globals from 'globals';

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      'coverage/',
      'test-results/',
      'stylegraph-out/',
      'tests/fixtures/',
      'tests/e2e/fixtures/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...vue.configs['flat/recommended'],
  {
    files: ['**/*.vue'],
    languageOptions: { parserOptions: { parser: tseslint.parser } },
  },
  {
    languageOptions: {
      globals: { ...globals.browser, ...globals.node, ...globals.worker },
    },
    rules: {
      // `any` needs a reason: write it in an eslint-disable comment next to the line.
      '@typescript-eslint/no-explicit-any': 'error',
      // Names such as Inspector and Palette are this app's own panels, never mixed with HTML elements.
      'vue/multi-word-component-names': 'off',
      // Prettier owns where attributes break.
      'vue/first-attribute-linebreak': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  prettier,
);
