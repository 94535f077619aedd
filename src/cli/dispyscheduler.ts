// placeholder until implemented
export {};
