/**
 * What the attribute model's heads mean: the 40 CelebA attributes in their output order,
 * and the age bins of the 5-class age head. The model and the lab (datasets, training,
 * evaluation) read them from here.
 */
export const CELEBA_ATTRIBUTES = [
  '5_o_Clock_Shadow', 'Arched_Eyebrows', 'Attractive', 'Bags_Under_Eyes', 'Bald', 'Bangs', 'Big_Lips', 'Big_Nose',
  'Black_Hair', 'Blond_Hair', 'Blurry', 'Brown_Hair', 'Bushy_Eyebrows', 'Chubby', 'Double_Chin', 'Eyeglasses', 'Goatee',
  'Gray_Hair', 'Heavy_Makeup', 'High_Cheekbones', 'Male', 'Mouth_Slightly_Open', 'Mustache', 'Narrow_Eyes', 'No_Beard',
  'Oval_Face', 'Pale_Skin', 'Pointy_Nose', 'Receding_Hairline', 'Rosy_Cheeks', 'Sideburns', 'Smiling', 'Straight_Hair',
  'Wavy_Hair', 'Wearing_Earrings', 'Wearing_Hat', 'Wearing_Lipstick', 'Wearing_Necklace', 'Wearing_Necktie', 'Young',
] as const;

/** Age bins of the 5-class age head (baby, child, youth, middle-aged, old), as the thesis defines them. */
export const AGE_BINS = [
  { name: 'baby', from: 0, to: 3 },
  { name: 'child', from: 4, to: 12 },
  { name: 'youth', from: 13, to: 30 },
  { name: 'middle-aged', from: 31, to: 55 },
  { name: 'old', from: 56, to: 200 },
] as const;

/** The adults' band the figures name apart (20-59 years), across the age groups above. */
export const ADULTS = { from: 20, to: 59 } as const;
